"""Payment gateways: the Alipay protocol client and building it from the app's configuration."""
