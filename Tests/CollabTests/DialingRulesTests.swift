// Dialed-number processing: formatting stripped, extensions kept, country and outside-line prefixes.

import Testing
import Wire

@Suite struct DialingRulesTests {
    let rules = DialingRules(countryCode: "44", outsideLinePrefix: "9", internationalPrefix: "00", nationalPrefix: "0", extensionLengths: [4])

    @Test func extensionsAndFeatureCodesAreDialedAsTyped() throws {
        #expect(try rules.apply(to: "2002") == "2002")
        #expect(try rules.apply(to: " 20-02 ") == "2002")
        #expect(try rules.apply(to: "*78") == "*78")
    }

    @Test func internationalFormatBecomesWhatTheOfficeDials() throws {
        #expect(try rules.apply(to: "+44 20 7946 0018") == "9020794600 18".replacingOccurrences(of: " ", with: ""))
        #expect(try rules.apply(to: "+44 (0)20 7946-0018") == "902079460018")
        #expect(try rules.apply(to: "+1 (212) 555-0100") == "90012125550100")
    }

    @Test func nationalNumbersGetTheOutsideLineOnce() throws {
        #expect(try rules.apply(to: "020 7946 0018") == "9020 7946 0018".replacingOccurrences(of: " ", with: ""))
        #expect(try rules.apply(to: "9020 7946 0018") == "902079460018")
    }

    @Test func nonsenseIsRefusedWithTheReason() {
        #expect(throws: DialingRules.Failure.invalidCharacter("x")) { try rules.apply(to: "20x2") }
        #expect(throws: DialingRules.Failure.empty) { try rules.apply(to: " ( ) ") }
        #expect(throws: DialingRules.Failure.empty) { try rules.apply(to: "+") }
    }
}
