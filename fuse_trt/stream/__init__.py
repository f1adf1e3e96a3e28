"""Video and camera pipelines: decode -> detect -> fuse -> encode on threads."""
