use spotify_session::{Session, Unauthenticated};

async fn refresh(mut session: Session<Unauthenticated>) {
    session.refresh_access_token().await.ok();
}

fn main() {
    drop(refresh);
}
