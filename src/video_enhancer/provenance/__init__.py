"""C2PA Content Credentials on every enhanced output and preview (`c2pa-python`)."""
