import NIOCore
public enum SIPPlaceholder {}
