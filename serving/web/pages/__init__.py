"""Server-rendered pages (Jinja2, no front-end build): sign-in, hub lists, family pages, governance dashboard."""
