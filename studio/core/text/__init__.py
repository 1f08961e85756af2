"""The text document as plain data and the marks of generated text."""
