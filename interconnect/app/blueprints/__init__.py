"""One Blueprint per feature (linking, channels, audit) and for the edge (health, the queue trigger);
function_app.py registers them and nothing else."""
