"""Business acts: one function per act, shared by customer and ops views. They flush, never commit."""
