"""The query side: SQL tables projected from case events, closed-loop metrics and reports."""
