"""Results: rows of finished runs read from the cache, and their aggregation over seeds."""
