"""WeChat login: web authorization inside WeChat and QR login on a desktop."""
