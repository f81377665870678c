"""Static reports: HTML or Markdown pages with SVG graphs, written from the service layer's read views."""
