"""Course plumbing: what the notebooks run on, not what they teach.

device and seeds (``device``), run profiles (``profiles``), progress bars
(``progress``), speed ratios (``benchmark``), the preprocessing cache
(``cache``), the environment report (``report``), exercise self-checks
(``selfcheck``), argument checks (``checks``), plotting with Chinese labels
(``plotting``), and the notebook machinery (``notebook_sync``, ``execute``).
"""
