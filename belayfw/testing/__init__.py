"""belayfw's pytest plugin (see docs/testing.md); pytest loads it from ``plugin``.

``plugin`` holds the hooks and options, ``fixtures`` the fixtures, ``boards``
the per-process state, ``claims`` the cross-process port locks, ``recorder``
and ``report`` what a failing test's report shows, ``header`` the header lines.
"""
