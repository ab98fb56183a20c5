public enum SIPMessagePlaceholder {}
