"""The embedded services arbflow can start itself: the Tansu broker and redis-server."""
