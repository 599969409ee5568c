"""Built-in web plugins: the pages of built-in core plugins (:mod:`b2bgateway_web.web_plugins`)."""
