"""nbgrader auto-loads only this file name; it loads ``grader_config.py``, the real config."""

import os

c = get_config()  # noqa: F821  (injected by traitlets)
load_subconfig(os.path.join(os.path.dirname(os.path.abspath(__file__)), "grader_config.py"))  # noqa: F821
