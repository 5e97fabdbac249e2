"""A link request's life: its model, lifecycle, queue contract, facts and rules, and the services that move it."""
