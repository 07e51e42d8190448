// Typesets the maths that pymdownx.arithmatex marked (generic mode: \( ... \) and \[ ... \] inside
// .arithmatex elements) with the vendored KaTeX, in the browser, without any network access.
// document$ is Material's page observable: it also fires after instant navigation.
document$.subscribe(({ body }) => {
  for (const element of body.querySelectorAll(".arithmatex")) {
    renderMathInElement(element, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  }
});
