"""graphchurn: predict customer churn from the social graph of a subscription business."""

__version__ = "0.1.0"
