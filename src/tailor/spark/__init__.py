"""What is Spark's own in Tailor (``--env spark``): the session and MLlib ALS.

The data engineering is not here: it is the one Ibis definition, which the ``spark``
environment runs on Ibis's PySpark backend (``conf/spark/spark.yml``, read by
:class:`tailor.hooks.SparkHooks`). Nothing here is imported by the default path.
"""
