use spotify_session::{Authorized, Session};

async fn renew(mut user: Session<Authorized>) {
    user.renew_access_token().await.ok();
}

fn main() {
    drop(renew);
}
