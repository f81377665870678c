"""Read models for the CLI, the API, the dashboard and the report: plain JSON-ready values, one alert_json."""
