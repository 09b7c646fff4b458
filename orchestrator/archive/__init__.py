"""The recordings archive: catalogue, content-addressed storage, access policy, signed URLs, retention."""
