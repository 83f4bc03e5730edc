"""Task configs: each file has get_config(variant=None); its docstring gives the command,
the result it reaches and its runtime on 2 cores."""
