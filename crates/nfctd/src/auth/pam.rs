//! The `pam` backend (cargo feature `pam`): the PAM service `nfctd`
//! (/etc/pam.d/nfctd) checks the password and the account; members of the
//! Unix group `nfctd-admin` are admins, every other user a viewer.

use pam_client::conv_mock::Conversation;
use pam_client::{Context, Flag};

use super::Role;

/// The PAM service name, i.e. the policy file under /etc/pam.d.
pub const SERVICE: &str = "nfctd";
/// Members of this Unix group get the admin role.
pub const ADMIN_GROUP: &str = "nfctd-admin";

#[derive(Debug, Default)]
pub struct PamAuth;

impl PamAuth {
    pub fn verify(&self, user: &str, password: &str) -> Option<Role> {
        let conversation = Conversation::with_credentials(user, password);
        let mut ctx = match Context::new(SERVICE, Some(user), conversation) {
            Ok(ctx) => ctx,
            Err(e) => {
                tracing::error!("cannot start PAM: {e}");
                return None;
            }
        };
        ctx.authenticate(Flag::NONE).ok()?;
        ctx.acct_mgmt(Flag::NONE).ok()?;
        Some(if in_admin_group(user) {
            Role::Admin
        } else {
            Role::Viewer
        })
    }
}

fn in_admin_group(user: &str) -> bool {
    use nix::unistd::{getgrouplist, Group, User};
    let (Ok(Some(u)), Ok(Some(g)), Ok(name)) = (
        User::from_name(user),
        Group::from_name(ADMIN_GROUP),
        std::ffi::CString::new(user),
    ) else {
        return false;
    };
    getgrouplist(&name, u.gid).is_ok_and(|groups| groups.contains(&g.gid))
}
