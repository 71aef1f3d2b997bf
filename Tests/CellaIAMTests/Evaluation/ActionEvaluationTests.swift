import CellaIAM
import Testing

/// Actions: case-insensitive, `*` and `?`, lists, `NotAction`, and the `lambda:` names.
@Suite struct ActionEvaluationTests {
    static let cases: [EvaluationCase] = [
        .init("exact action", [doc(allow())], req(), .allowed, sid: "A"),
        .init("action names ignore case", [doc(allow(action: #""CELLA:invokefunction""#))], req(), .allowed),
        .init("another action does not match", [doc(allow(action: #""cella:GetFunction""#))], req(), .implicitDeny),
        .init("* matches every action", [doc(allow(action: #""*""#))], req(.manageNodes), .allowed),
        .init("cella:* matches", [doc(allow(action: #""cella:*""#))], req(.getLogs), .allowed),
        .init("Get* matches GetFunction", [doc(allow(action: #""cella:Get*""#))], req(.getFunction), .allowed),
        .init("Get* matches GetLogs", [doc(allow(action: #""cella:Get*""#))], req(.getLogs), .allowed),
        .init("Get* does not match ListFunctions", [doc(allow(action: #""cella:Get*""#))], req(.listFunctions), .implicitDeny),
        .init("? matches one character", [doc(allow(action: #""cella:?etFunction""#))], req(.getFunction), .allowed),
        .init("? does not match GetLogs", [doc(allow(action: #""cella:?etFunction""#))], req(.getLogs), .implicitDeny),
        .init("*Function matches DeleteFunction", [doc(allow(action: #""cella:*Function""#))], req(.deleteFunction), .allowed),
        .init("*Function does not match ListFunctions", [doc(allow(action: #""cella:*Function""#))], req(.listFunctions), .implicitDeny),
        .init("*Function* matches ListFunctions", [doc(allow(action: #""cella:*Function*""#))], req(.listFunctions), .allowed),
        .init("trailing * matches nothing more", [doc(allow(action: #""cella:InvokeFunction*""#))], req(), .allowed),
        .init("trailing ? stands for one character", [doc(allow(action: #""cella:ListFunction?""#))], req(.listFunctions), .allowed),
        .init("trailing ? does not match another action", [doc(allow(action: #""cella:ListFunction?""#))], req(.getFunction), .implicitDeny),
        .init("Manage???s matches ManageKeys", [doc(allow(action: #""cella:Manage???s""#))], req(.manageKeys), .allowed),
        .init("Manage???s does not match ManageNodes", [doc(allow(action: #""cella:Manage???s""#))], req(.manageNodes), .implicitDeny),
        .init("*Keys matches ManageKeys", [doc(allow(action: #""cella:*Keys""#))], req(.manageKeys), .allowed),
        .init("ListFunctions does not match ListVersions", [doc(allow(action: #""cella:ListFunctions""#))], req(.listVersions), .implicitDeny),
        .init("a list of actions is ORed", [doc(allow(action: #"["cella:GetLogs","cella:InvokeFunction"]"#))], req(), .allowed),
        .init("a list without the action", [doc(allow(action: #"["cella:GetLogs","cella:GetFunction"]"#))], req(), .implicitDeny),
        .init("wildcard service", [doc(allow(action: #""*:InvokeFunction""#))], req(), .allowed),
        // The lambda: names are the same operations as the cella: ones.
        .init("lambda: name grants the cella: request", [doc(allow(action: #""lambda:InvokeFunction""#))], req(), .allowed),
        .init("lambda:* grants CreateFunction", [doc(allow(action: #""lambda:*""#))], req(.createFunction), .allowed),
        .init("lambda:* grants PublishVersion", [doc(allow(action: #""lambda:*""#))], req(.publishVersion), .allowed),
        .init("lambda:* does not grant ManageKeys", [doc(allow(action: #""lambda:*""#))], req(.manageKeys), .implicitDeny),
        .init("lambda: wildcard ignores case", [doc(allow(action: #""LAMBDA:invoke*""#))], req(), .allowed),
        .init("lambda:Get* grants GetFunction", [doc(allow(action: #""lambda:Get*""#))], req(.getFunction), .allowed),
        .init("lambda:Get* does not grant GetLogs", [doc(allow(action: #""lambda:Get*""#))], req(.getLogs), .implicitDeny),
        .init("deny by lambda: name stops a cella: grant",
              [doc(allow(action: #""cella:*""#), deny(action: #""lambda:DeleteFunction""#))], req(.deleteFunction), .explicitDeny, sid: "D"),
        // NotAction: everything but what is listed.
        .init("NotAction allows other actions", [doc(allow(action: nil, notAction: #""cella:ManageKeys""#))], req(), .allowed),
        .init("NotAction excludes the listed action", [doc(allow(action: nil, notAction: #""cella:ManageKeys""#))], req(.manageKeys), .implicitDeny),
        .init("NotAction by lambda: name excludes the operation", [doc(allow(action: nil, notAction: #""lambda:InvokeFunction""#))], req(), .implicitDeny),
        .init("NotAction wildcard excludes GetLogs", [doc(allow(action: nil, notAction: #"["cella:Get*"]"#))], req(.getLogs), .implicitDeny),
        .init("NotAction wildcard lets DeleteFunction through", [doc(allow(action: nil, notAction: #"["cella:Get*"]"#))], req(.deleteFunction), .allowed),
        .init("Deny NotAction does not deny the listed action",
              [doc(deny(action: nil, notAction: #""cella:Get*""#), allow(action: #""*""#))], req(.getFunction), .allowed, sid: "A"),
        .init("Deny NotAction denies the others",
              [doc(deny(action: nil, notAction: #""cella:Get*""#), allow(action: #""*""#))], req(.deleteFunction), .explicitDeny, sid: "D"),
        .init("NotAction * applies to nothing", [doc(allow(action: nil, notAction: #""*""#))], req(), .implicitDeny),
    ]

    @Test(arguments: cases)
    func evaluate(_ testCase: EvaluationCase) throws {
        try testCase.check()
    }
}
