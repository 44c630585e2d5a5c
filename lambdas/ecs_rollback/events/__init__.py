"""Typed models of the events the functions receive, exactly as AWS delivers them."""
