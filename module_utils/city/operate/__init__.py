"""Operating the toolkit on the control node: one apply at a time, its audit trail, the plan.

Used by the callback plugin ``apply_session`` (callback_plugins/) and by the tests; never
shipped to a managed host.
"""
