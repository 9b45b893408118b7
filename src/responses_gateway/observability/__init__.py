"""What operators see: metrics, traces, request logs, and the request record that feeds them."""
