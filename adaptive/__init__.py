"""adaptive: a real-time adaptive music server.

A score (layered stems and pyo patches grouped into sections) is played so that its
intensity, rests and transitions follow emotion parameters. The pure core
(`adaptive.score`, `adaptive.musical_time`, `adaptive.conductor`, ...) decides what should
sound and when, in samples; the pyo backend (`adaptive.engine`) is the only place that
builds audio objects.
"""

__version__ = "0.1.0"
