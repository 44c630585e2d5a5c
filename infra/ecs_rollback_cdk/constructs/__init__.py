"""The parts of ``EcsAutoRollback``, one module per concern.

Each adds its resources directly under the construct it is given, with the ids they have always
had: an extra level in the construct tree would rename every logical id, and CloudFormation
would replace the retained ledger table and the topic's e-mail subscriptions.
"""
