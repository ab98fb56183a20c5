public enum SIPAuthPlaceholder {}
