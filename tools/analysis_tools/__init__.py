"""Scripts that inspect configs, datasets and work directories (run them as files).

``analyze_logs.py`` plots logged values, ``plot_telemetry.py`` ARSAM's schedule,
``get_flops.py`` a model's cost, ``print_config.py`` a resolved config and
``browse_dataset.py`` training samples after the pipeline (docs/tools.md).
"""
