//! GoHighLevel API v2 client.
