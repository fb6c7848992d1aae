"""Import every module that registers jobs (handlers stay free of apscheduler)."""
