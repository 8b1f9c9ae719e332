use spotify_session::{ClientCredentials, Session};

async fn refresh(mut app: Session<ClientCredentials>) {
    app.refresh_access_token().await.ok();
}

fn main() {
    drop(refresh);
}
