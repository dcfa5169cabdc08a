"""The message centre, and the adapter interface SMS or WeChat can implement later."""
