"""The agency's review: the queue, claims, decisions with reasons, four-eyes approval, quality sampling."""
