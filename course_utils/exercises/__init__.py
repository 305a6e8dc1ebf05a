"""Exercise self-checks, one module per concept (see ``course_utils.tools.selfcheck``)."""
