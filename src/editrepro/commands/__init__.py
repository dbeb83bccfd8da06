"""One module per ``editrepro`` subcommand, each with ``HELP``, ``add_arguments(parser)`` and ``run(args)``.

Commands are thin: they parse, call the library, and print where the results went.
"""
