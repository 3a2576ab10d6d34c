"""medft's top floor: the ``medft`` command that assembles bridge, recipes and eval, the offline demo
and LLaMA Board (web UI) on medft's datasets. Nothing below imports from here."""
