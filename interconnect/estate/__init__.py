"""Links as code: a topology document declares the links a scope should have; the planner turns it into the
ordered change, judged by the pre-flight's own rules on every state the change passes through."""
