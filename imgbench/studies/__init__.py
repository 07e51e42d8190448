"""Many runs: study files, presets, compare (train what is missing) and the report."""
