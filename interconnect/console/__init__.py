"""The web console (issue #18): the single page and its assets, served by the app itself, and the sign-in
configuration and security headers they are served with.

Pure code: which files may be served under which name and content type (`assets`), and the page's
Content-Security-Policy and sign-in settings built from the tenant's OpenID metadata (`signin`). The routes are
in interconnect/app/blueprints/console.py; the browser code in static/ (no build step, no framework).
"""
