use super::*;

/// Where each element of this fixture comes from is written at its top.
const LYNC2013: &str = include_str!("testdata/lync2013-provisioning.xml");

#[test]
fn request_body_asks_for_each_group() {
    assert_eq!(
        request_body(&["ServerConfiguration", "meetingPolicy"]),
        "<provisioningGroupList xmlns=\"http://schemas.microsoft.com/2006/09/sip/provisioninggrouplist\">\
         <provisioningGroup name=\"ServerConfiguration\"/><provisioningGroup name=\"meetingPolicy\"/>\
         </provisioningGroupList>"
    );
    assert_eq!(request_body(&["a\"<b"]).matches("name=\"a&quot;&lt;b\"").count(), 1);
    let default = request_body(DEFAULT_GROUPS);
    let doc = Document::parse(default.as_bytes()).unwrap();
    assert_eq!(doc.root.name, "provisioningGroupList");
    assert_eq!(doc.root.namespace.as_deref(), Some(REQUEST_NAMESPACE));
    let names: Vec<_> = doc.root.children_named("provisioningGroup").filter_map(|g| g.attr("name")).collect();
    assert_eq!(names, DEFAULT_GROUPS);
    assert!(names.iter().all(|n| !UNVERIFIED_GROUPS.contains(n)));
}

#[test]
fn reads_server_configuration() {
    let p = parse(LYNC2013.as_bytes()).unwrap();
    let s = p.server.as_ref().unwrap();
    assert_eq!(s.abs_internal_url.as_deref(), Some("https://pool01.contoso.lab:443/abs/handler"));
    assert_eq!(s.abs_external_url.as_deref(), Some("https://lyncweb.contoso.lab:443/abs/handler"));
    assert_eq!(s.abs_url(true), s.abs_external_url.as_deref());
    assert_eq!(s.abs_url(false), s.abs_internal_url.as_deref());
    assert_eq!(s.dlx_internal_url.as_deref(), Some("https://pool01.contoso.lab:443/groupexpansion/service.svc"));
    assert_eq!(s.dlx_external_url.as_deref(), Some("https://lyncweb.contoso.lab:443/groupexpansion/service.svc"));
    assert_eq!(s.focus_factory_uri.as_deref(), Some("sip:alice@contoso.lab;gruu;opaque=app:conf:focusfactory"));
    // Trimmed, as pidgin-sipe does for mrasUri.
    assert_eq!(s.mras_uri.as_deref(), Some("sip:edge01.contoso.lab@contoso.lab;gruu;opaque=srvr:MRAS:k9JWeflV"));
    assert_eq!(s.voicemail_uri.as_deref(), Some("sip:alice@contoso.lab;opaque=app:voicemail"));
    assert_eq!(s.pool_uri.as_deref(), Some("sip:pool01.contoso.lab@contoso.lab;gruu;opaque=srvr:HomeServer:AkqNlc1A"));
    assert!(s.test_call_bot_uri.as_deref().unwrap().contains("testbot"));
    assert_eq!(
        s.updates_server_internal_url.as_deref(),
        Some("https://pool01.contoso.lab:443/RequestHandler/ucdevice.upx")
    );
    assert_eq!(
        s.updates_server_external_url.as_deref(),
        Some("https://lyncweb.contoso.lab:443/RequestHandlerExt/ucdevice.upx")
    );
    assert_eq!(s.qos_enabled, Some(false));
    assert_eq!(s.pc2pc_av_encryption, Some(AvEncryption::Support));
    assert_eq!(s.location_profile.as_deref(), Some("Contoso-Dialplan"));
    assert_eq!(p.location_profile_name(), Some("Contoso-Dialplan"));
    let ports = &s.media_ports;
    assert_eq!(ports.range_enabled, Some(true));
    assert_eq!(ports.media, Some(PortRange { min: 50000, max: 50039 }));
    assert_eq!(ports.audio, Some(PortRange { min: 50000, max: 50019 }));
    assert_eq!(ports.video, Some(PortRange { min: 50020, max: 50039 }));
    assert_eq!(ports.app_sharing, Some(PortRange { min: 50040, max: 50059 }));
    assert_eq!(ports.file_transfer, Some(PortRange { min: 50060, max: 50079 }));
    // Settings we do not model stay available, found case-insensitively.
    assert_eq!(s.property("ucminpinlength"), Some("6"));
    assert_eq!(s.properties.get("ucMinPinLength").map(String::as_str), Some("6"));
    assert_eq!(s.properties.len(), 26);
    assert!(p.invalid_values.is_empty(), "{:?}", p.invalid_values);
}

#[test]
fn reads_policies_in_both_property_shapes() {
    let p = parse(LYNC2013.as_bytes()).unwrap();
    let meeting = p.meeting_policy.as_ref().unwrap();
    assert_eq!(meeting.allow_ip_audio, Some(true));
    assert_eq!(meeting.allow_ip_video, Some(false));
    // [MS-SIPREGE] 2.2.2.5.2 prints the name and value padded with spaces.
    assert_eq!(meeting.enable_data_collaboration, Some(true));
    let uc = p.uc_policy.as_ref().unwrap();
    assert_eq!(uc.name.as_deref(), Some("Users in My Domain"));
    assert_eq!(
        [uc.allow_call_forwarding, uc.allow_simultaneous_ringing, uc.enable_call_transfer, uc.enable_call_park],
        [Some(true); 4]
    );
    assert_eq!([uc.enable_delegation, uc.enable_team_call], [Some(true); 2]);
    assert_eq!([uc.enable_bw_policy_override, uc.enable_malicious_call_trace], [Some(false); 2]);
    let chat = p.persistent_chat.as_ref().unwrap();
    assert_eq!(chat.enabled, Some(true));
    assert_eq!(chat.default_pool_uri.as_deref(), Some("sip:pchat.contoso.lab@contoso.lab;gruu;opaque=srvr:chat:AbC"));
    assert_eq!(chat.pool_uris.len(), 2);
    assert_eq!(chat.web_manager_uri_internal, None);
}

#[test]
fn keeps_every_group_raw_in_document_order() {
    let p = parse(LYNC2013.as_bytes()).unwrap();
    let names: Vec<_> = p.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "endpointConfiguration",
            "ServerConfiguration",
            "meetingPolicy",
            "ucPolicy",
            "persistentChatConfiguration",
            "mediaConfiguration",
            "someFutureGroup"
        ]
    );
    let future = p.group("SOMEFUTUREGROUP").unwrap();
    assert!(future.xml.starts_with("<provisionGroup name=\"someFutureGroup\">"), "{}", future.xml);
    assert!(future.xml.contains("<widget kind=\"x\"><part>1 &amp; 2</part></widget>"));
    assert!(future.xml.ends_with("</provisionGroup>"));
    assert!(future.properties.is_empty());
    // Every group's raw XML is itself a readable provisionGroup.
    for g in &p.groups {
        let doc = Document::parse(g.xml.as_bytes()).unwrap();
        assert_eq!(doc.root.attr("name"), Some(g.name.as_str()));
    }
    let endpoint = p.group("endpointConfiguration").unwrap();
    assert_eq!(endpoint.property("maxphotosizekb"), Some("10"));
    assert_eq!(endpoint.property("DisableMusicOnHold"), Some("false"));
    assert_eq!(p.group("mediaConfiguration").unwrap().property("bypassEnabled"), Some("true"));
}

#[test]
fn matches_setting_names_case_insensitively() {
    let body = r#"<provisionGroupList xmlns="http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification"><provisionGroup name="serverconfiguration"><uclocationprofile>DP1</uclocationprofile><UCPC2PCAVENCRYPTION>RequireEncryption</UCPC2PCAVENCRYPTION><ucminaudioport>1</ucminaudioport><ucmaxaudioport>2</ucmaxaudioport></provisionGroup></provisionGroupList>"#;
    let p = parse(body.as_bytes()).unwrap();
    assert_eq!(p.location_profile_name(), Some("DP1"));
    let s = p.server.unwrap();
    assert_eq!(s.pc2pc_av_encryption, Some(AvEncryption::Require));
    assert_eq!(s.media_ports.audio, Some(PortRange { min: 1, max: 2 }));
    assert_eq!(s.media_ports.video, None);
}

#[test]
fn reports_bad_values_without_failing() {
    let body = r#"<provisionGroupList><provisionGroup name="ServerConfiguration"><qosEnabled>maybe</qosEnabled><ucMinAudioPort>abc</ucMinAudioPort><ucMaxAudioPort>50019</ucMaxAudioPort><ucMinVideoPort>50040</ucMinVideoPort><ucMaxVideoPort>50020</ucMaxVideoPort><ucMinMediaPort>70000</ucMinMediaPort><ucPC2PCAVEncryption>DoNotSupportEncryption</ucPC2PCAVEncryption></provisionGroup><provisionGroup name="meetingPolicy"><instance><property name="AllowIPAudio">yes</property></instance></provisionGroup></provisionGroupList>"#;
    let p = parse(body.as_bytes()).unwrap();
    let s = p.server.as_ref().unwrap();
    assert_eq!(s.qos_enabled, None);
    assert_eq!(s.media_ports.audio, None);
    assert_eq!(s.media_ports.video, None);
    assert_eq!(s.media_ports.media, None);
    assert_eq!(s.pc2pc_av_encryption, Some(AvEncryption::DoNotSupport));
    assert_eq!(s.property("qosEnabled"), Some("maybe"));
    let bad: Vec<_> = p.invalid_values.iter().map(|v| (v.group.as_str(), v.name.as_str(), v.value.as_str())).collect();
    assert_eq!(
        bad,
        [
            ("ServerConfiguration", "qosEnabled", "maybe"),
            ("ServerConfiguration", "ucMinMediaPort", "70000"),
            ("ServerConfiguration", "ucMinAudioPort", "abc"),
            ("ServerConfiguration", "ucMaxAudioPort", "50019"),
            ("ServerConfiguration", "ucMinVideoPort", "50040"),
            ("meetingPolicy", "AllowIPAudio", "yes"),
        ]
    );
    assert_eq!(p.meeting_policy.unwrap().allow_ip_audio, None);
}

#[test]
fn refuses_what_is_not_a_provision_group_list() {
    assert!(matches!(parse(b"not xml <"), Err(ProvisioningError::Xml(_))));
    assert_eq!(parse(b""), Err(ProvisioningError::Xml(XmlError::Empty)));
    assert_eq!(parse(b"\xff"), Err(ProvisioningError::Xml(XmlError::NotUtf8)));
    assert_eq!(
        parse(b"<provisioningGroupList><provisioningGroup name=\"x\"/></provisioningGroupList>"),
        Err(ProvisioningError::UnexpectedRoot { found: "provisioningGroupList".into() })
    );
    assert_eq!(
        parse(b"<provisionGroupList><provisionGroup name=\"a\"/><provisionGroup/></provisionGroupList>"),
        Err(ProvisioningError::GroupWithoutName { index: 1 })
    );
    assert!(matches!(
        parse(b"<provisionGroupList><provisionGroup name=\"a\"></provisionGroupList>"),
        Err(ProvisioningError::Xml(XmlError::Malformed { .. }))
    ));
    // An answer without ServerConfiguration is not an error; it just has none.
    let p = parse(b"<provisionGroupList/>").unwrap();
    assert_eq!(p.server, None);
    assert_eq!(p.location_profile_name(), None);
    assert!(p.groups.is_empty());
    let msg = ProvisioningError::UnexpectedRoot { found: "x".into() }.to_string();
    assert!(msg.contains("provisionGroupList") && msg.contains("vnd-microsoft-provisioning-v2"), "{msg}");
}

#[test]
fn serializes_for_reports() {
    let p = parse(LYNC2013.as_bytes()).unwrap();
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["server"]["location_profile"], "Contoso-Dialplan");
    assert_eq!(json["server"]["media_ports"]["audio"]["min"], 50000);
    assert_eq!(json["groups"][6]["name"], "someFutureGroup");
}
