"""Business acts: one function per act, shared by customer and ops views; they never commit."""
