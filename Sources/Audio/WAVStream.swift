// A WAV file written while the audio arrives (8 kHz mono 16-bit), for call recording: a long
// call never sits in memory. The header's two sizes are written at `close()`; a file whose writer
// never closed (the process was killed) is mended by `WAV.repairSizes(at:)` from its length.

import Foundation

public final class WAVStreamWriter {
    public let url: URL
    private let handle: FileHandle
    public private(set) var sampleCount = 0
    private var closed = false

    /// Creates the file, readable by its owner only (it holds a conversation).
    public init(url: URL) throws(WAVError) {
        self.url = url
        guard FileManager.default.createFile(atPath: url.path, contents: Data(WAV.encode([])), attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: url.path) else {
            throw WAVError("cannot create \(url.path)")
        }
        self.handle = handle
        handle.seekToEndOfFile()
    }

    public func append(_ samples: [Int16]) throws(WAVError) {
        guard !closed else { return }
        var bytes = [UInt8]()
        bytes.reserveCapacity(samples.count * 2)
        for sample in samples {
            let bits = UInt16(bitPattern: sample)
            bytes.append(UInt8(bits & 0xFF))
            bytes.append(UInt8(bits >> 8))
        }
        do { try handle.write(contentsOf: bytes) } catch { throw WAVError("cannot write \(url.path): \(error.localizedDescription)") }
        sampleCount += samples.count
    }

    /// Writes the sizes into the header and closes the file.
    public func close() throws(WAVError) {
        guard !closed else { return }
        closed = true
        do {
            try handle.close()
        } catch {
            throw WAVError("cannot close \(url.path): \(error.localizedDescription)")
        }
        try WAV.repairSizes(at: url)
    }

    deinit { if !closed { try? handle.close() } }
}

extension WAV {
    /// Sets the RIFF and data sizes of a 44-byte-header WAV (as `encode` writes) from the file's
    /// length, dropping an odd trailing byte (half a sample).
    public static func repairSizes(at url: URL) throws(WAVError) {
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            let length = (attributes[.size] as? NSNumber)?.intValue ?? 0
            guard length >= 44 else { throw WAVError("\(url.lastPathComponent) is shorter than a WAV header") }
            let handle = try FileHandle(forUpdating: url)
            defer { try? handle.close() }
            let dataBytes = (length - 44) & ~1
            if dataBytes + 44 != length { try handle.truncate(atOffset: UInt64(44 + dataBytes)) }
            try handle.seek(toOffset: 4)
            try handle.write(contentsOf: littleEndian(UInt32(36 + dataBytes)))
            try handle.seek(toOffset: 40)
            try handle.write(contentsOf: littleEndian(UInt32(dataBytes)))
        } catch let error as WAVError {
            throw error
        } catch {
            throw WAVError("cannot mend \(url.path): \(error.localizedDescription)")
        }
    }

    private static func littleEndian(_ value: UInt32) -> Data {
        Data([UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)])
    }
}
