"""WeChat Pay API v3: the `wechat_native` payment provider, its notify webhook and the payment QR code."""
