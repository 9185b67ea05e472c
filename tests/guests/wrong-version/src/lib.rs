//! A test guest built against `ballast:backend@1.0.0`, a version this host
//! does not implement. It deliberately skips the SDK and binds an inline WIT
//! so the only thing wrong with it is the version: the host must refuse to
//! load it with a message naming both versions. It only needs to build.

wit_bindgen::generate!({
    inline: r#"
        package ballast:backend@1.0.0;

        interface driver {
            init: func(settings: list<tuple<string, string>>) -> string;
        }

        world wrong-version {
            export driver;
        }
    "#,
});

struct WrongVersion;

impl exports::ballast::backend::driver::Guest for WrongVersion {
    fn init(_settings: Vec<(String, String)>) -> String {
        "built for ballast:backend@1.0.0".into()
    }
}

export!(WrongVersion);
